//! The BOLT 2 messages a channel sends and receives, as typed values.
//!
//! They are views over the one message codec ([`crate::wire::message`]):
//! decoding is the codec's, then each field is taken by name into its type;
//! encoding builds the codec's [`Message`] and lets it write the bytes.

use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{ecdsa, PublicKey};
use bitcoin::{Amount, BlockHash, ScriptBuf, Txid};

use crate::amount::Msat;
use crate::onion::failure::AttributionData;
use crate::payment::{CltvExpiry, PaymentHash, PaymentPreimage};
use crate::signer::ChannelPubkeys;
use crate::tx::commitment::FeeratePerKw;
use crate::wire::message::{self, Message, MessageError, MessageSchema, Value};
use crate::wire::tlv::DecodedRecord;

/// BOLT 2 `channel_id` (or `temporary_channel_id`).
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct ChannelId(#[serde(with = "hex::serde")] pub [u8; 32]);

impl ChannelId {
    /// BOLT 2: `funding_txid` XOR `funding_output_index` in its last two bytes
    /// (the txid in its wire byte order).
    pub fn from_funding(txid: &Txid, index: u16) -> Self {
        let mut id = txid.to_byte_array();
        id[30] ^= (index >> 8) as u8;
        id[31] ^= index as u8;
        ChannelId(id)
    }
}

impl std::fmt::Display for ChannelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl std::fmt::Debug for ChannelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ChannelId({self})")
    }
}

/// The part of `open_channel` and `accept_channel` that each side sets for the other.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChannelParams {
    /// `dust_limit_satoshis`: below it, no output on the sender's commitment.
    pub dust_limit: Amount,
    /// `max_htlc_value_in_flight_msat`: the most the other side may offer at once.
    pub max_htlc_value_in_flight: Msat,
    /// `channel_reserve_satoshis`: what the other side must keep.
    pub channel_reserve: Amount,
    /// `htlc_minimum_msat`: the smallest HTLC the sender accepts.
    pub htlc_minimum: Msat,
    /// `to_self_delay`: the other side's CSV on its own outputs.
    pub to_self_delay: u16,
    /// `max_accepted_htlcs`: the most HTLCs the other side may offer at once.
    pub max_accepted_htlcs: u16,
    /// The sender's keys.
    pub pubkeys: ChannelPubkeys,
    /// `first_per_commitment_point`.
    pub first_per_commitment_point: PublicKey,
    /// `upfront_shutdown_script` (empty: none).
    pub upfront_shutdown_script: ScriptBuf,
    /// `channel_type`, as a feature vector.
    pub channel_type: Option<Vec<u8>>,
}

/// `open_channel`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenChannel {
    /// `chain_hash`.
    pub chain_hash: BlockHash,
    /// `temporary_channel_id`.
    pub temporary_channel_id: ChannelId,
    /// `funding_satoshis`.
    pub funding: Amount,
    /// `push_msat`.
    pub push: Msat,
    /// `feerate_per_kw`.
    pub feerate: FeeratePerKw,
    /// `channel_flags` (bit 0: `announce_channel`).
    pub channel_flags: u8,
    /// The rest.
    pub params: ChannelParams,
}

/// `accept_channel`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptChannel {
    /// `temporary_channel_id`.
    pub temporary_channel_id: ChannelId,
    /// `minimum_depth`.
    pub minimum_depth: u32,
    /// The rest.
    pub params: ChannelParams,
}

/// Every message of BOLT 2 that a channel handles, plus BOLT 1 `error`/`warning`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelMessage {
    /// `open_channel`.
    Open(Box<OpenChannel>),
    /// `accept_channel`.
    Accept(Box<AcceptChannel>),
    /// `funding_created`.
    FundingCreated {
        /// `temporary_channel_id`.
        temporary_channel_id: ChannelId,
        /// `funding_txid`.
        funding_txid: Txid,
        /// `funding_output_index`.
        funding_output_index: u16,
        /// The opener's signature on the accepter's first commitment.
        signature: ecdsa::Signature,
    },
    /// `funding_signed`.
    FundingSigned {
        /// `channel_id`.
        channel_id: ChannelId,
        /// The accepter's signature on the opener's first commitment.
        signature: ecdsa::Signature,
    },
    /// `channel_ready`.
    Ready {
        /// `channel_id`.
        channel_id: ChannelId,
        /// `second_per_commitment_point`.
        second_per_commitment_point: PublicKey,
        /// `short_channel_id` `alias`.
        alias: Option<u64>,
    },
    /// `shutdown`.
    Shutdown {
        /// `channel_id`.
        channel_id: ChannelId,
        /// `scriptpubkey`.
        script: ScriptBuf,
    },
    /// `closing_signed` (legacy closing).
    ClosingSigned {
        /// `channel_id`.
        channel_id: ChannelId,
        /// `fee_satoshis`.
        fee: Amount,
        /// `signature`.
        signature: ecdsa::Signature,
        /// `fee_range`: min and max.
        fee_range: Option<(Amount, Amount)>,
    },
    /// `closing_complete` (`option_simple_close`).
    ClosingComplete(Box<SimpleClose>),
    /// `closing_sig` (`option_simple_close`).
    ClosingSig(Box<SimpleClose>),
    /// `update_add_htlc`.
    AddHtlc(UpdateAddHtlc),
    /// `update_fulfill_htlc`.
    Fulfill {
        /// `channel_id`.
        channel_id: ChannelId,
        /// `id`.
        id: u64,
        /// `payment_preimage`.
        preimage: PaymentPreimage,
        /// TLV 1 `attribution_data`: hold times for the payer (BOLT 4).
        attribution: Option<Box<AttributionData>>,
    },
    /// `update_fail_htlc`.
    Fail {
        /// `channel_id`.
        channel_id: ChannelId,
        /// `id`.
        id: u64,
        /// `reason`: the failure onion.
        reason: Vec<u8>,
        /// TLV 1 `attribution_data`: who failed, and hold times (BOLT 4).
        attribution: Option<Box<AttributionData>>,
    },
    /// `update_fail_malformed_htlc`.
    FailMalformed {
        /// `channel_id`.
        channel_id: ChannelId,
        /// `id`.
        id: u64,
        /// `sha256_of_onion`.
        sha256_of_onion: [u8; 32],
        /// `failure_code` (BADONION set).
        failure_code: u16,
    },
    /// `commitment_signed`.
    CommitmentSigned {
        /// `channel_id`.
        channel_id: ChannelId,
        /// The signature on the receiver's commitment.
        signature: ecdsa::Signature,
        /// One per untrimmed HTLC output, in output order.
        htlc_signatures: Vec<ecdsa::Signature>,
    },
    /// `revoke_and_ack`.
    RevokeAndAck {
        /// `channel_id`.
        channel_id: ChannelId,
        /// `per_commitment_secret` of the commitment revoked.
        per_commitment_secret: [u8; 32],
        /// `next_per_commitment_point`.
        next_per_commitment_point: PublicKey,
    },
    /// `update_fee`.
    UpdateFee {
        /// `channel_id`.
        channel_id: ChannelId,
        /// `feerate_per_kw`.
        feerate: FeeratePerKw,
    },
    /// `channel_reestablish`.
    Reestablish {
        /// `channel_id`.
        channel_id: ChannelId,
        /// `next_commitment_number`.
        next_commitment_number: u64,
        /// `next_revocation_number`.
        next_revocation_number: u64,
        /// `your_last_per_commitment_secret`.
        your_last_per_commitment_secret: [u8; 32],
        /// `my_current_per_commitment_point`.
        my_current_per_commitment_point: PublicKey,
    },
    /// BOLT 1 `error`: the channel (all-zero id: every channel) is failed.
    Error {
        /// `channel_id`.
        channel_id: ChannelId,
        /// `data`, usually text.
        data: Vec<u8>,
    },
    /// BOLT 1 `warning`.
    Warning {
        /// `channel_id`.
        channel_id: ChannelId,
        /// `data`, usually text.
        data: Vec<u8>,
    },
}

/// `update_add_htlc`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UpdateAddHtlc {
    /// `channel_id`.
    pub channel_id: ChannelId,
    /// `id`.
    pub id: u64,
    /// `amount_msat`.
    pub amount: Msat,
    /// `payment_hash`.
    pub payment_hash: PaymentHash,
    /// `cltv_expiry`.
    pub cltv_expiry: CltvExpiry,
    /// `onion_routing_packet` (1366 bytes).
    #[serde(with = "crate::fast_hex")]
    pub onion: Vec<u8>,
    /// `blinded_path` `path_key`.
    pub path_key: Option<PublicKey>,
}

/// `closing_complete` / `closing_sig`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimpleClose {
    /// `channel_id`.
    pub channel_id: ChannelId,
    /// `closer_scriptpubkey`.
    pub closer_script: ScriptBuf,
    /// `closee_scriptpubkey`.
    pub closee_script: ScriptBuf,
    /// `fee_satoshis`, paid by the closer.
    pub fee: Amount,
    /// `locktime`.
    pub locktime: u32,
    /// `closer_output_only`.
    pub closer_output_only: Option<ecdsa::Signature>,
    /// `closee_output_only`.
    pub closee_output_only: Option<ecdsa::Signature>,
    /// `closer_and_closee_outputs`.
    pub both_outputs: Option<ecdsa::Signature>,
}

/// A message whose fields do not make a valid value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MsgError {
    /// The codec refused it.
    #[error(transparent)]
    Codec(#[from] MessageError),
    /// A field is not what its type needs.
    #[error("{message}: {field} is not a valid {what}")]
    Field {
        /// The message.
        message: &'static str,
        /// The field.
        field: &'static str,
        /// What it should be.
        what: &'static str,
    },
}

/// Fields of a decoded message, taken by name.
struct Fields<'a>(&'a Message);

impl Fields<'_> {
    fn name(&self) -> &'static str {
        self.0.name.unwrap_or("message")
    }
    fn get(&self, field: &'static str) -> &Value {
        &self
            .0
            .fields
            .iter()
            .find(|(n, _)| *n == field)
            .expect("the schema names the field")
            .1
    }
    fn bad(&self, field: &'static str, what: &'static str) -> MsgError {
        MsgError::Field {
            message: self.name(),
            field,
            what,
        }
    }
    fn uint(&self, field: &'static str) -> u64 {
        match self.get(field) {
            Value::Uint(v) | Value::Scid(v) => *v,
            _ => unreachable!("an integer field"),
        }
    }
    fn bytes(&self, field: &'static str) -> &[u8] {
        match self.get(field) {
            Value::Bytes(b) | Value::Features(b) => b,
            _ => unreachable!("a byte field"),
        }
    }
    fn b32(&self, field: &'static str) -> [u8; 32] {
        self.bytes(field).try_into().expect("a 32-byte field")
    }
    fn id(&self, field: &'static str) -> ChannelId {
        ChannelId(self.b32(field))
    }
    fn point(&self, field: &'static str) -> PublicKey {
        match self.get(field) {
            Value::Point(p) => *p,
            _ => unreachable!("a point field"),
        }
    }
    fn sig(&self, field: &'static str) -> Result<ecdsa::Signature, MsgError> {
        ecdsa::Signature::from_compact(self.bytes(field)).map_err(|_| self.bad(field, "signature"))
    }
    fn tlv(&self, typ: u64) -> Option<&DecodedRecord> {
        self.0.tlvs.iter().find(|r| r.typ == typ)
    }
    /// TLV 1 of `update_fulfill_htlc` and `update_fail_htlc`.
    fn attribution(&self) -> Result<Option<Box<AttributionData>>, MsgError> {
        self.tlv(1)
            .map(|r| {
                AttributionData::from_slice(&r.value)
                    .map(Box::new)
                    .ok_or_else(|| self.bad("attribution_data", "920 bytes"))
            })
            .transpose()
    }
    fn tlv_sig(&self, typ: u64, name: &'static str) -> Result<Option<ecdsa::Signature>, MsgError> {
        self.tlv(typ)
            .map(|r| {
                ecdsa::Signature::from_compact(&r.value).map_err(|_| self.bad(name, "signature"))
            })
            .transpose()
    }
    fn params(&self) -> Result<ChannelParams, MsgError> {
        Ok(ChannelParams {
            dust_limit: Amount::from_sat(self.uint("dust_limit_satoshis")),
            max_htlc_value_in_flight: Msat(self.uint("max_htlc_value_in_flight_msat")),
            channel_reserve: Amount::from_sat(self.uint("channel_reserve_satoshis")),
            htlc_minimum: Msat(self.uint("htlc_minimum_msat")),
            to_self_delay: self.uint("to_self_delay") as u16,
            max_accepted_htlcs: self.uint("max_accepted_htlcs") as u16,
            pubkeys: ChannelPubkeys {
                funding: self.point("funding_pubkey"),
                revocation: self.point("revocation_basepoint"),
                payment: self.point("payment_basepoint"),
                delayed_payment: self.point("delayed_payment_basepoint"),
                htlc: self.point("htlc_basepoint"),
            },
            first_per_commitment_point: self.point("first_per_commitment_point"),
            upfront_shutdown_script: ScriptBuf::from_bytes(
                self.tlv(0).map(|r| r.value.clone()).unwrap_or_default(),
            ),
            channel_type: self.tlv(1).map(|r| r.value.clone()),
        })
    }
}

/// Build a codec message from fields (their kinds come from the schema) and TLV records.
fn build(name: &str, fields: Vec<Value>, tlvs: Vec<(u64, Vec<u8>)>) -> Message {
    let schema = MessageSchema::by_name(name).expect("a known message");
    Message {
        typ: schema.typ,
        name: Some(schema.name),
        fields: schema.fields.iter().map(|(n, _)| *n).zip(fields).collect(),
        tlvs: tlvs
            .into_iter()
            .map(|(typ, value)| DecodedRecord {
                typ,
                name: None,
                fields: vec![],
                value,
            })
            .collect(),
        raw: None,
    }
}

fn b(bytes: impl Into<Vec<u8>>) -> Value {
    Value::Bytes(bytes.into())
}
fn u(v: impl Into<u64>) -> Value {
    Value::Uint(v.into())
}
fn sig(s: &ecdsa::Signature) -> Value {
    b(s.serialize_compact())
}

fn params_fields(p: &ChannelParams) -> Vec<Value> {
    vec![
        u(p.dust_limit.to_sat()),
        u(p.max_htlc_value_in_flight.0),
        u(p.channel_reserve.to_sat()),
        u(p.htlc_minimum.0),
    ]
}

fn params_points(p: &ChannelParams) -> Vec<Value> {
    [
        p.pubkeys.funding,
        p.pubkeys.revocation,
        p.pubkeys.payment,
        p.pubkeys.delayed_payment,
        p.pubkeys.htlc,
        p.first_per_commitment_point,
    ]
    .into_iter()
    .map(Value::Point)
    .collect()
}

fn params_tlvs(p: &ChannelParams) -> Vec<(u64, Vec<u8>)> {
    // BOLT 2: a sender with TLVs MUST include upfront_shutdown_script (empty if none).
    let mut t = vec![(0, p.upfront_shutdown_script.to_bytes())];
    if let Some(ct) = &p.channel_type {
        t.push((1, ct.clone()));
    }
    t
}

fn simple_close(f: &Fields) -> Result<SimpleClose, MsgError> {
    Ok(SimpleClose {
        channel_id: f.id("channel_id"),
        closer_script: ScriptBuf::from_bytes(f.bytes("closer_scriptpubkey").to_vec()),
        closee_script: ScriptBuf::from_bytes(f.bytes("closee_scriptpubkey").to_vec()),
        fee: Amount::from_sat(f.uint("fee_satoshis")),
        locktime: f.uint("locktime") as u32,
        closer_output_only: f.tlv_sig(1, "closer_output_only")?,
        closee_output_only: f.tlv_sig(2, "closee_output_only")?,
        both_outputs: f.tlv_sig(3, "closer_and_closee_outputs")?,
    })
}

fn simple_close_message(name: &str, c: &SimpleClose) -> Message {
    let tlvs = [
        (1, c.closer_output_only),
        (2, c.closee_output_only),
        (3, c.both_outputs),
    ]
    .into_iter()
    .filter_map(|(t, s)| s.map(|s| (t, s.serialize_compact().to_vec())))
    .collect();
    build(
        name,
        vec![
            b(c.channel_id.0),
            b(c.closer_script.to_bytes()),
            b(c.closee_script.to_bytes()),
            u(c.fee.to_sat()),
            u(c.locktime),
        ],
        tlvs,
    )
}

impl ChannelMessage {
    /// The channel it is for (the temporary id before `funding_signed`).
    pub fn channel_id(&self) -> ChannelId {
        match self {
            ChannelMessage::Open(o) => o.temporary_channel_id,
            ChannelMessage::Accept(a) => a.temporary_channel_id,
            ChannelMessage::FundingCreated {
                temporary_channel_id,
                ..
            } => *temporary_channel_id,
            ChannelMessage::AddHtlc(a) => a.channel_id,
            ChannelMessage::ClosingComplete(c) | ChannelMessage::ClosingSig(c) => c.channel_id,
            ChannelMessage::FundingSigned { channel_id, .. }
            | ChannelMessage::Ready { channel_id, .. }
            | ChannelMessage::Shutdown { channel_id, .. }
            | ChannelMessage::ClosingSigned { channel_id, .. }
            | ChannelMessage::Fulfill { channel_id, .. }
            | ChannelMessage::Fail { channel_id, .. }
            | ChannelMessage::FailMalformed { channel_id, .. }
            | ChannelMessage::CommitmentSigned { channel_id, .. }
            | ChannelMessage::RevokeAndAck { channel_id, .. }
            | ChannelMessage::UpdateFee { channel_id, .. }
            | ChannelMessage::Reestablish { channel_id, .. }
            | ChannelMessage::Error { channel_id, .. }
            | ChannelMessage::Warning { channel_id, .. } => *channel_id,
        }
    }

    /// The BOLT name of the message.
    pub fn name(&self) -> &'static str {
        self.to_message().name.expect("a known message")
    }

    /// A channel message from a decoded one; `None` for messages that are not
    /// a channel's (`init`, `ping`, gossip, unknown odd types).
    pub fn from_message(m: &Message) -> Result<Option<Self>, MsgError> {
        let f = Fields(m);
        let Some(name) = m.name else { return Ok(None) };
        Ok(Some(match name {
            "open_channel" => ChannelMessage::Open(Box::new(OpenChannel {
                chain_hash: BlockHash::from_byte_array(f.b32("chain_hash")),
                temporary_channel_id: f.id("temporary_channel_id"),
                funding: Amount::from_sat(f.uint("funding_satoshis")),
                push: Msat(f.uint("push_msat")),
                feerate: FeeratePerKw(f.uint("feerate_per_kw") as u32),
                channel_flags: f.uint("channel_flags") as u8,
                params: f.params()?,
            })),
            "accept_channel" => ChannelMessage::Accept(Box::new(AcceptChannel {
                temporary_channel_id: f.id("temporary_channel_id"),
                minimum_depth: f.uint("minimum_depth") as u32,
                params: f.params()?,
            })),
            "funding_created" => ChannelMessage::FundingCreated {
                temporary_channel_id: f.id("temporary_channel_id"),
                funding_txid: Txid::from_byte_array(f.b32("funding_txid")),
                funding_output_index: f.uint("funding_output_index") as u16,
                signature: f.sig("signature")?,
            },
            "funding_signed" => ChannelMessage::FundingSigned {
                channel_id: f.id("channel_id"),
                signature: f.sig("signature")?,
            },
            "channel_ready" => ChannelMessage::Ready {
                channel_id: f.id("channel_id"),
                second_per_commitment_point: f.point("second_per_commitment_point"),
                alias: f
                    .tlv(1)
                    .map(|r| {
                        <[u8; 8]>::try_from(r.value.as_slice())
                            .map(u64::from_be_bytes)
                            .map_err(|_| f.bad("alias", "short_channel_id"))
                    })
                    .transpose()?,
            },
            "shutdown" => ChannelMessage::Shutdown {
                channel_id: f.id("channel_id"),
                script: ScriptBuf::from_bytes(f.bytes("scriptpubkey").to_vec()),
            },
            "closing_signed" => ChannelMessage::ClosingSigned {
                channel_id: f.id("channel_id"),
                fee: Amount::from_sat(f.uint("fee_satoshis")),
                signature: f.sig("signature")?,
                fee_range: f
                    .tlv(1)
                    .map(|r| {
                        (r.value.len() == 16)
                            .then(|| {
                                let n = |i: usize| {
                                    Amount::from_sat(u64::from_be_bytes(
                                        r.value[i..i + 8].try_into().expect("8 bytes"),
                                    ))
                                };
                                (n(0), n(8))
                            })
                            .ok_or(f.bad("fee_range", "pair of u64"))
                    })
                    .transpose()?,
            },
            "closing_complete" => ChannelMessage::ClosingComplete(Box::new(simple_close(&f)?)),
            "closing_sig" => ChannelMessage::ClosingSig(Box::new(simple_close(&f)?)),
            "update_add_htlc" => ChannelMessage::AddHtlc(UpdateAddHtlc {
                channel_id: f.id("channel_id"),
                id: f.uint("id"),
                amount: Msat(f.uint("amount_msat")),
                payment_hash: PaymentHash(f.b32("payment_hash")),
                cltv_expiry: CltvExpiry(f.uint("cltv_expiry") as u32),
                onion: f.bytes("onion_routing_packet").to_vec(),
                path_key: f
                    .tlv(0)
                    .map(|r| {
                        PublicKey::from_slice(&r.value).map_err(|_| f.bad("path_key", "point"))
                    })
                    .transpose()?,
            }),
            "update_fulfill_htlc" => ChannelMessage::Fulfill {
                channel_id: f.id("channel_id"),
                id: f.uint("id"),
                preimage: PaymentPreimage(f.b32("payment_preimage")),
                attribution: f.attribution()?,
            },
            "update_fail_htlc" => ChannelMessage::Fail {
                channel_id: f.id("channel_id"),
                id: f.uint("id"),
                reason: f.bytes("reason").to_vec(),
                attribution: f.attribution()?,
            },
            "update_fail_malformed_htlc" => ChannelMessage::FailMalformed {
                channel_id: f.id("channel_id"),
                id: f.uint("id"),
                sha256_of_onion: f.b32("sha256_of_onion"),
                failure_code: f.uint("failure_code") as u16,
            },
            "commitment_signed" => ChannelMessage::CommitmentSigned {
                channel_id: f.id("channel_id"),
                signature: f.sig("signature")?,
                htlc_signatures: match f.get("htlc_signatures") {
                    Value::Signatures(s) => s
                        .iter()
                        .map(|s| {
                            ecdsa::Signature::from_compact(s)
                                .map_err(|_| f.bad("htlc_signatures", "signature"))
                        })
                        .collect::<Result<_, _>>()?,
                    _ => unreachable!("a signatures field"),
                },
            },
            "revoke_and_ack" => ChannelMessage::RevokeAndAck {
                channel_id: f.id("channel_id"),
                per_commitment_secret: f.b32("per_commitment_secret"),
                next_per_commitment_point: f.point("next_per_commitment_point"),
            },
            "update_fee" => ChannelMessage::UpdateFee {
                channel_id: f.id("channel_id"),
                feerate: FeeratePerKw(f.uint("feerate_per_kw") as u32),
            },
            "channel_reestablish" => ChannelMessage::Reestablish {
                channel_id: f.id("channel_id"),
                next_commitment_number: f.uint("next_commitment_number"),
                next_revocation_number: f.uint("next_revocation_number"),
                your_last_per_commitment_secret: f.b32("your_last_per_commitment_secret"),
                my_current_per_commitment_point: f.point("my_current_per_commitment_point"),
            },
            "error" => ChannelMessage::Error {
                channel_id: f.id("channel_id"),
                data: f.bytes("data").to_vec(),
            },
            "warning" => ChannelMessage::Warning {
                channel_id: f.id("channel_id"),
                data: f.bytes("data").to_vec(),
            },
            _ => return Ok(None),
        }))
    }

    /// Decode bytes (type first); `None` for messages that are not a channel's.
    pub fn decode(bytes: &[u8]) -> Result<Option<Self>, MsgError> {
        Self::from_message(&message::decode(bytes)?)
    }

    /// The codec message.
    pub fn to_message(&self) -> Message {
        match self {
            ChannelMessage::Open(o) => {
                let mut fields = vec![
                    b(o.chain_hash.to_byte_array()),
                    b(o.temporary_channel_id.0),
                    u(o.funding.to_sat()),
                    u(o.push.0),
                ];
                fields.extend(params_fields(&o.params));
                fields.extend([
                    u(o.feerate.0),
                    u(o.params.to_self_delay),
                    u(o.params.max_accepted_htlcs),
                ]);
                fields.extend(params_points(&o.params));
                fields.push(u(o.channel_flags));
                build("open_channel", fields, params_tlvs(&o.params))
            }
            ChannelMessage::Accept(a) => {
                let mut fields = vec![b(a.temporary_channel_id.0)];
                fields.extend(params_fields(&a.params));
                fields.extend([
                    u(a.minimum_depth),
                    u(a.params.to_self_delay),
                    u(a.params.max_accepted_htlcs),
                ]);
                fields.extend(params_points(&a.params));
                build("accept_channel", fields, params_tlvs(&a.params))
            }
            ChannelMessage::FundingCreated {
                temporary_channel_id,
                funding_txid,
                funding_output_index,
                signature,
            } => build(
                "funding_created",
                vec![
                    b(temporary_channel_id.0),
                    b(funding_txid.to_byte_array()),
                    u(*funding_output_index),
                    sig(signature),
                ],
                vec![],
            ),
            ChannelMessage::FundingSigned {
                channel_id,
                signature,
            } => build(
                "funding_signed",
                vec![b(channel_id.0), sig(signature)],
                vec![],
            ),
            ChannelMessage::Ready {
                channel_id,
                second_per_commitment_point,
                alias,
            } => build(
                "channel_ready",
                vec![b(channel_id.0), Value::Point(*second_per_commitment_point)],
                alias
                    .iter()
                    .map(|a| (1, a.to_be_bytes().to_vec()))
                    .collect(),
            ),
            ChannelMessage::Shutdown { channel_id, script } => build(
                "shutdown",
                vec![b(channel_id.0), b(script.to_bytes())],
                vec![],
            ),
            ChannelMessage::ClosingSigned {
                channel_id,
                fee,
                signature,
                fee_range,
            } => build(
                "closing_signed",
                vec![b(channel_id.0), u(fee.to_sat()), sig(signature)],
                fee_range
                    .iter()
                    .map(|(lo, hi)| {
                        let mut v = lo.to_sat().to_be_bytes().to_vec();
                        v.extend(hi.to_sat().to_be_bytes());
                        (1, v)
                    })
                    .collect(),
            ),
            ChannelMessage::ClosingComplete(c) => simple_close_message("closing_complete", c),
            ChannelMessage::ClosingSig(c) => simple_close_message("closing_sig", c),
            ChannelMessage::AddHtlc(a) => build(
                "update_add_htlc",
                vec![
                    b(a.channel_id.0),
                    u(a.id),
                    u(a.amount.0),
                    b(a.payment_hash.0),
                    u(a.cltv_expiry.0),
                    b(a.onion.clone()),
                ],
                a.path_key
                    .iter()
                    .map(|p| (0, p.serialize().to_vec()))
                    .collect(),
            ),
            ChannelMessage::Fulfill {
                channel_id,
                id,
                preimage,
                attribution,
            } => build(
                "update_fulfill_htlc",
                vec![b(channel_id.0), u(*id), b(preimage.0)],
                attribution.iter().map(|a| (1, a.0.to_vec())).collect(),
            ),
            ChannelMessage::Fail {
                channel_id,
                id,
                reason,
                attribution,
            } => build(
                "update_fail_htlc",
                vec![b(channel_id.0), u(*id), b(reason.clone())],
                attribution.iter().map(|a| (1, a.0.to_vec())).collect(),
            ),
            ChannelMessage::FailMalformed {
                channel_id,
                id,
                sha256_of_onion,
                failure_code,
            } => build(
                "update_fail_malformed_htlc",
                vec![
                    b(channel_id.0),
                    u(*id),
                    b(*sha256_of_onion),
                    u(*failure_code),
                ],
                vec![],
            ),
            ChannelMessage::CommitmentSigned {
                channel_id,
                signature,
                htlc_signatures,
            } => build(
                "commitment_signed",
                vec![
                    b(channel_id.0),
                    sig(signature),
                    Value::Signatures(
                        htlc_signatures
                            .iter()
                            .map(|s| s.serialize_compact().to_vec())
                            .collect(),
                    ),
                ],
                vec![],
            ),
            ChannelMessage::RevokeAndAck {
                channel_id,
                per_commitment_secret,
                next_per_commitment_point,
            } => build(
                "revoke_and_ack",
                vec![
                    b(channel_id.0),
                    b(*per_commitment_secret),
                    Value::Point(*next_per_commitment_point),
                ],
                vec![],
            ),
            ChannelMessage::UpdateFee {
                channel_id,
                feerate,
            } => build("update_fee", vec![b(channel_id.0), u(feerate.0)], vec![]),
            ChannelMessage::Reestablish {
                channel_id,
                next_commitment_number,
                next_revocation_number,
                your_last_per_commitment_secret,
                my_current_per_commitment_point,
            } => build(
                "channel_reestablish",
                vec![
                    b(channel_id.0),
                    u(*next_commitment_number),
                    u(*next_revocation_number),
                    b(*your_last_per_commitment_secret),
                    Value::Point(*my_current_per_commitment_point),
                ],
                vec![],
            ),
            ChannelMessage::Error { channel_id, data } => {
                build("error", vec![b(channel_id.0), b(data.clone())], vec![])
            }
            ChannelMessage::Warning { channel_id, data } => {
                build("warning", vec![b(channel_id.0), b(data.clone())], vec![])
            }
        }
    }

    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        message::encode(&self.to_message()).expect("typed fields always encode")
    }
}

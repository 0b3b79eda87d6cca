//! BOLT 4 "Returning Errors" and "Failure Messages": the failure onion that
//! travels back along the route, and the attribution data that lets the
//! origin tell which hop failed (or tampered) and how long each held the HTLC.
//!
//! The erring node builds `hmac || u16 failure_len || failuremsg || u16 pad_len
//! || pad`, the HMAC keyed with its `um` key, then XORs it with its `ammag`
//! stream. Every hop back XORs it with its own `ammag` stream. The origin peels
//! the streams in route order until a hop's `um` HMAC matches.

use super::keys;
use crate::wire::tlv::{self, Record};
use crate::wire::BigSize;

/// The smallest `failure_len + pad_len` (BOLT 4: "at least 256").
pub const MIN_FAILURE_AND_PAD: usize = 256;

/// The data fields a failure message can carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureField {
    /// `sha256`: 32 bytes.
    Sha256,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `bigsize`.
    BigSize,
    /// `u16` length then that many bytes (the `channel_update`).
    U16Bytes,
}

/// Flag bits of a failure code.
pub const BADONION: u16 = 0x8000;
/// Permanent failure.
pub const PERM: u16 = 0x4000;
/// Node failure (not channel).
pub const NODE: u16 = 0x2000;
/// A `channel_update` is enclosed.
pub const UPDATE: u16 = 0x1000;

/// A failure message type (BOLT 4 "Failure Messages").
#[derive(Clone, Copy, Debug)]
pub struct FailureCode {
    /// The code, flags included.
    pub code: u16,
    /// Its name.
    pub name: &'static str,
    /// Its data fields.
    pub fields: &'static [(&'static str, FailureField)],
}

use FailureField as F;

/// Every failure message BOLT 4 defines.
pub const FAILURE_CODES: &[FailureCode] = &[
    FailureCode {
        code: NODE | 2,
        name: "temporary_node_failure",
        fields: &[],
    },
    FailureCode {
        code: PERM | NODE | 2,
        name: "permanent_node_failure",
        fields: &[],
    },
    FailureCode {
        code: PERM | NODE | 3,
        name: "required_node_feature_missing",
        fields: &[],
    },
    FailureCode {
        code: BADONION | PERM | 4,
        name: "invalid_onion_version",
        fields: &[("sha256_of_onion", F::Sha256)],
    },
    FailureCode {
        code: BADONION | PERM | 5,
        name: "invalid_onion_hmac",
        fields: &[("sha256_of_onion", F::Sha256)],
    },
    FailureCode {
        code: BADONION | PERM | 6,
        name: "invalid_onion_key",
        fields: &[("sha256_of_onion", F::Sha256)],
    },
    FailureCode {
        code: UPDATE | 7,
        name: "temporary_channel_failure",
        fields: &[("channel_update", F::U16Bytes)],
    },
    FailureCode {
        code: PERM | 8,
        name: "permanent_channel_failure",
        fields: &[],
    },
    FailureCode {
        code: PERM | 9,
        name: "required_channel_feature_missing",
        fields: &[],
    },
    FailureCode {
        code: PERM | 10,
        name: "unknown_next_peer",
        fields: &[],
    },
    FailureCode {
        code: UPDATE | 11,
        name: "amount_below_minimum",
        fields: &[("htlc_msat", F::U64), ("channel_update", F::U16Bytes)],
    },
    FailureCode {
        code: UPDATE | 12,
        name: "fee_insufficient",
        fields: &[("htlc_msat", F::U64), ("channel_update", F::U16Bytes)],
    },
    FailureCode {
        code: UPDATE | 13,
        name: "incorrect_cltv_expiry",
        fields: &[("cltv_expiry", F::U32), ("channel_update", F::U16Bytes)],
    },
    FailureCode {
        code: UPDATE | 14,
        name: "expiry_too_soon",
        fields: &[("channel_update", F::U16Bytes)],
    },
    FailureCode {
        code: PERM | 15,
        name: "incorrect_or_unknown_payment_details",
        fields: &[("htlc_msat", F::U64), ("height", F::U32)],
    },
    FailureCode {
        code: 18,
        name: "final_incorrect_cltv_expiry",
        fields: &[("cltv_expiry", F::U32)],
    },
    FailureCode {
        code: 19,
        name: "final_incorrect_htlc_amount",
        fields: &[("incoming_htlc_amt", F::U64)],
    },
    FailureCode {
        code: UPDATE | 20,
        name: "channel_disabled",
        fields: &[("disabled_flags", F::U16), ("channel_update", F::U16Bytes)],
    },
    FailureCode {
        code: 21,
        name: "expiry_too_far",
        fields: &[],
    },
    FailureCode {
        code: PERM | 22,
        name: "invalid_onion_payload",
        fields: &[("type", F::BigSize), ("offset", F::U16)],
    },
    FailureCode {
        code: 23,
        name: "mpp_timeout",
        fields: &[],
    },
    FailureCode {
        code: BADONION | PERM | 24,
        name: "invalid_onion_blinding",
        fields: &[("sha256_of_onion", F::Sha256)],
    },
];

impl FailureCode {
    /// The failure message type by name.
    pub fn by_name(name: &str) -> Option<&'static FailureCode> {
        FAILURE_CODES.iter().find(|c| c.name == name)
    }

    /// The failure message type by code.
    pub fn by_code(code: u16) -> Option<&'static FailureCode> {
        FAILURE_CODES.iter().find(|c| c.code == code)
    }
}

/// A field value of a failure message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureValue {
    /// An integer field.
    Uint(u64),
    /// A byte field (`sha256`, `channel_update`).
    Bytes(Vec<u8>),
}

/// A failure message: its code, its fields, and any TLV extension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureMessage {
    /// `failure_code`.
    pub code: u16,
    /// The fields, in order (empty for an unknown code).
    pub fields: Vec<(&'static str, FailureValue)>,
    /// The extension TLV stream after the fields, or an unknown code's raw data.
    pub tlvs: Vec<Record>,
}

/// A failure message that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FailureMessageError {
    /// Shorter than the code and fields.
    #[error("failure message truncated in field {0}")]
    Truncated(&'static str),
    /// A field given with the wrong kind of value.
    #[error("field {0}: wrong kind of value")]
    WrongValue(&'static str),
    /// The extension is not a valid TLV stream.
    #[error("extension TLV stream: {0}")]
    Tlv(#[from] tlv::TlvError),
}

impl FailureMessage {
    /// The failure BOLT 4 names `name`, with its fields in order.
    ///
    /// # Panics
    /// On a name BOLT 4 does not define: the names are the code's own constants.
    pub fn named(name: &str, fields: Vec<(&'static str, FailureValue)>) -> Self {
        let code = FailureCode::by_name(name)
            .unwrap_or_else(|| panic!("{name} is not a BOLT 4 failure"))
            .code;
        FailureMessage {
            code,
            fields,
            tlvs: vec![],
        }
    }

    /// The wire bytes: `u16 failure_code || data || tlv_stream`.
    pub fn encode(&self) -> Result<Vec<u8>, FailureMessageError> {
        let mut out = self.code.to_be_bytes().to_vec();
        let kinds = FailureCode::by_code(self.code)
            .map(|c| c.fields)
            .unwrap_or(&[]);
        for ((name, kind), (_, value)) in kinds.iter().zip(&self.fields) {
            match (kind, value) {
                (F::U16, FailureValue::Uint(v)) => out.extend((*v as u16).to_be_bytes()),
                (F::U32, FailureValue::Uint(v)) => out.extend((*v as u32).to_be_bytes()),
                (F::U64, FailureValue::Uint(v)) => out.extend(v.to_be_bytes()),
                (F::BigSize, FailureValue::Uint(v)) => out.extend(BigSize(*v).encode()),
                (F::Sha256, FailureValue::Bytes(b)) if b.len() == 32 => out.extend(b),
                (F::U16Bytes, FailureValue::Bytes(b)) if b.len() <= u16::MAX as usize => {
                    out.extend((b.len() as u16).to_be_bytes());
                    out.extend(b);
                }
                _ => return Err(FailureMessageError::WrongValue(name)),
            }
        }
        out.extend(tlv::encode_stream(&self.tlvs));
        Ok(out)
    }

    /// Decode wire bytes. An unknown code keeps its data raw, as a field named `data`.
    pub fn decode(bytes: &[u8]) -> Result<Self, FailureMessageError> {
        let code = u16::from_be_bytes(
            bytes
                .get(..2)
                .ok_or(FailureMessageError::Truncated("failure_code"))?
                .try_into()
                .expect("2 bytes"),
        );
        let Some(schema) = FailureCode::by_code(code) else {
            return Ok(FailureMessage {
                code,
                fields: vec![("data", FailureValue::Bytes(bytes[2..].to_vec()))],
                tlvs: vec![],
            });
        };
        let mut pos = 2;
        let mut fields = vec![];
        for (name, kind) in schema.fields {
            let take = |n: usize| {
                bytes
                    .get(pos..pos + n)
                    .ok_or(FailureMessageError::Truncated(name))
            };
            let int = |b: &[u8]| b.iter().fold(0u64, |a, x| (a << 8) | u64::from(*x));
            let (value, used) = match kind {
                F::U16 => (FailureValue::Uint(int(take(2)?)), 2),
                F::U32 => (FailureValue::Uint(int(take(4)?)), 4),
                F::U64 => (FailureValue::Uint(int(take(8)?)), 8),
                F::Sha256 => (FailureValue::Bytes(take(32)?.to_vec()), 32),
                F::BigSize => {
                    let (v, n) = BigSize::decode(&bytes[pos..])
                        .map_err(|_| FailureMessageError::Truncated(name))?;
                    (FailureValue::Uint(v.0), n)
                }
                F::U16Bytes => {
                    let len = int(take(2)?) as usize;
                    let body = bytes
                        .get(pos + 2..pos + 2 + len)
                        .ok_or(FailureMessageError::Truncated(name))?;
                    (FailureValue::Bytes(body.to_vec()), 2 + len)
                }
            };
            fields.push((*name, value));
            pos += used;
        }
        // Any odd type is fine in a failure message's extension; unknown even types are not.
        let tlvs = tlv::decode_stream(&bytes[pos..], |_| false)?;
        Ok(FailureMessage { code, fields, tlvs })
    }

    /// The name of its code, when BOLT 4 defines it.
    pub fn name(&self) -> Option<&'static str> {
        FailureCode::by_code(self.code).map(|c| c.name)
    }
}

/// The packet before obfuscation: `hmac || u16 failure_len || failuremsg || u16 pad_len || pad`,
/// padded so that `failure_len + pad_len` is `pad_to` (at least 256).
pub fn raw_error_packet(
    shared_secret: &[u8; 32],
    failure_message: &[u8],
    pad_to: usize,
) -> Vec<u8> {
    let pad_len = pad_to
        .max(MIN_FAILURE_AND_PAD)
        .saturating_sub(failure_message.len());
    let mut payload = Vec::with_capacity(4 + failure_message.len() + pad_len);
    payload.extend((failure_message.len() as u16).to_be_bytes());
    payload.extend(failure_message);
    payload.extend((pad_len as u16).to_be_bytes());
    payload.resize(payload.len() + pad_len, 0);
    let um = keys::generate_key(b"um", shared_secret);
    let mut packet = keys::hmac(&um, &[&payload]).to_vec();
    packet.extend(payload);
    packet
}

/// XOR a return packet with this hop's `ammag` stream: the erring node does it
/// once after building the packet, and every hop back does it again.
pub fn obfuscate(shared_secret: &[u8; 32], packet: &mut [u8]) {
    keys::xor_stream(&keys::generate_key(b"ammag", shared_secret), packet);
}

/// The number of hold times and the HMAC slots per hop (BOLT 4: the maximum route length, 20).
pub const MAX_HOPS: usize = 20;
const HOLD_TIME_LEN: usize = 4;
const TRUNCATED_HMAC_LEN: usize = 4;
/// 20 + 19 + ... + 1 truncated HMACs.
pub const HMAC_COUNT: usize = MAX_HOPS * (MAX_HOPS + 1) / 2;
/// `attribution_data`: 20 hold times and 210 truncated HMACs.
pub const ATTRIBUTION_LEN: usize = MAX_HOPS * HOLD_TIME_LEN + HMAC_COUNT * TRUNCATED_HMAC_LEN;

/// BOLT 2/4 `attribution_data`: hold times (units of 100 ms) and truncated HMACs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttributionData(pub [u8; ATTRIBUTION_LEN]);

impl AttributionData {
    /// From the wire's 920 bytes; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        Some(AttributionData(bytes.try_into().ok()?))
    }
}

impl serde::Serialize for AttributionData {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // On every store write of a channel with fulfilled HTLCs in its
        // log: `hex::encode`'s char iterator was 10% of a payment's CPU.
        crate::fast_hex::serialize(&self.0, s)
    }
}

impl<'de> serde::Deserialize<'de> for AttributionData {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let bytes = crate::fast_hex::deserialize(d)?;
        AttributionData::from_slice(&bytes).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "attribution_data: expected {ATTRIBUTION_LEN} bytes, got {}",
                bytes.len()
            ))
        })
    }
}

impl Default for AttributionData {
    fn default() -> Self {
        AttributionData([0; ATTRIBUTION_LEN])
    }
}

impl AttributionData {
    fn hmac_slot(&mut self, idx: usize) -> &mut [u8] {
        let at = MAX_HOPS * HOLD_TIME_LEN + idx * TRUNCATED_HMAC_LEN;
        &mut self.0[at..at + TRUNCATED_HMAC_LEN]
    }

    fn hmac_at(&self, idx: usize) -> &[u8] {
        let at = MAX_HOPS * HOLD_TIME_LEN + idx * TRUNCATED_HMAC_LEN;
        &self.0[at..at + TRUNCATED_HMAC_LEN]
    }

    /// The hold time in the first slot (this layer's hop).
    pub fn first_hold_time(&self) -> u32 {
        u32::from_be_bytes(self.0[..4].try_into().expect("4 bytes"))
    }

    /// The truncated HMAC a hop computes for `position` (its distance from the
    /// end of the route): over the message, the first `position + 1` hold
    /// times, and the `position` HMACs downstream hops made for the positions
    /// below it (`hmac_{x+1}_{y-1}`, `hmac_{x+2}_{y-2}`, …).
    fn compute_hmac(
        &self,
        um: &[u8; 32],
        message: &[u8],
        position: usize,
    ) -> [u8; TRUNCATED_HMAC_LEN] {
        let mut downstream = Vec::with_capacity(position * TRUNCATED_HMAC_LEN);
        // Block k (k >= 1) starts at sum_{j<k} (MAX_HOPS - j); within it, position p is at MAX_HOPS - k - 1 - p.
        let mut block_start = MAX_HOPS;
        for k in 1..=position {
            let p = position - k;
            downstream.extend(self.hmac_at(block_start + (MAX_HOPS - k - 1 - p)));
            block_start += MAX_HOPS - k;
        }
        let full = keys::hmac(
            um,
            &[
                message,
                &self.0[..(position + 1) * HOLD_TIME_LEN],
                &downstream,
            ],
        );
        full[..TRUNCATED_HMAC_LEN].try_into().expect("4 bytes")
    }

    /// Make room for an upstream hop: hold times move one slot right, and each
    /// hop's HMAC block moves one block right, losing its highest position.
    pub fn shift_right(&mut self) {
        let ht = MAX_HOPS * HOLD_TIME_LEN;
        self.0.copy_within(..ht - HOLD_TIME_LEN, HOLD_TIME_LEN);
        // Old block k (size MAX_HOPS - k) becomes new block k + 1 (size MAX_HOPS - k - 1), its first slot dropped.
        let starts: Vec<usize> = (0..MAX_HOPS)
            .scan(0, |s, k| {
                let v = *s;
                *s += MAX_HOPS - k;
                Some(v)
            })
            .collect();
        for k in (0..MAX_HOPS - 1).rev() {
            let size = MAX_HOPS - k - 1;
            let (from, to) = (starts[k] + 1, starts[k + 1]);
            let at = |i: usize| ht + i * TRUNCATED_HMAC_LEN;
            self.0.copy_within(at(from)..at(from + size), at(to));
        }
        self.0[ht..ht + MAX_HOPS * TRUNCATED_HMAC_LEN].fill(0);
    }

    /// Put this hop's hold time first and its 20 HMACs (one per possible position) in block 0.
    pub fn add_hop(&mut self, shared_secret: &[u8; 32], message: &[u8], hold_time: u32) {
        self.0[..HOLD_TIME_LEN].copy_from_slice(&hold_time.to_be_bytes());
        let um = keys::generate_key(b"um", shared_secret);
        for idx in 0..MAX_HOPS {
            let position = MAX_HOPS - 1 - idx;
            let h = self.compute_hmac(&um, message, position);
            self.hmac_slot(idx).copy_from_slice(&h);
        }
    }

    /// XOR with the hop's `ammagext` stream.
    pub fn crypt(&mut self, shared_secret: &[u8; 32]) {
        keys::xor_stream(&keys::generate_key(b"ammagext", shared_secret), &mut self.0);
    }

    /// Whether the hop at `position` made the HMAC this layer holds.
    fn verify(&self, shared_secret: &[u8; 32], message: &[u8], position: usize) -> bool {
        let um = keys::generate_key(b"um", shared_secret);
        let want = self.compute_hmac(&um, message, position);
        let got = self.hmac_at(MAX_HOPS - 1 - position);
        want.iter().zip(got).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0
    }

    /// The origin's inverse of [`shift_right`](Self::shift_right): the next hop's layer.
    fn shift_left(&mut self) {
        let ht = MAX_HOPS * HOLD_TIME_LEN;
        self.0.copy_within(HOLD_TIME_LEN..ht, 0);
        let starts: Vec<usize> = (0..MAX_HOPS)
            .scan(0, |s, k| {
                let v = *s;
                *s += MAX_HOPS - k;
                Some(v)
            })
            .collect();
        for k in 0..MAX_HOPS - 1 {
            let size = MAX_HOPS - k - 1;
            let (from, to) = (starts[k + 1], starts[k] + 1);
            let at = |i: usize| ht + i * TRUNCATED_HMAC_LEN;
            self.0.copy_within(at(from)..at(from + size), at(to));
        }
    }
}

/// The erring node's attribution data: its hold time and HMACs over the raw packet.
pub fn attribution_for_failure(
    shared_secret: &[u8; 32],
    raw_packet: &[u8],
    hold_time: u32,
) -> AttributionData {
    let mut a = AttributionData::default();
    a.add_hop(shared_secret, raw_packet, hold_time);
    a.crypt(shared_secret);
    a
}

/// An intermediate hop's update: make room, add its hold time and HMACs over
/// the packet it received (before its own `ammag` stream), then obfuscate.
/// For a successful payment (`update_fulfill_htlc`) the message is empty.
pub fn attribution_forward(
    shared_secret: &[u8; 32],
    downstream: Option<&AttributionData>,
    received_packet: &[u8],
    hold_time: u32,
) -> AttributionData {
    let mut a = downstream.cloned().unwrap_or_default();
    if downstream.is_some() {
        a.shift_right();
    }
    a.add_hop(shared_secret, received_packet, hold_time);
    a.crypt(shared_secret);
    a
}

/// The erring node's reply (BOLT 4 "Returning Errors"): the failure packet
/// wrapped in its `ammag` layer, and its attribution data with its hold time.
pub fn fail_back(
    shared_secret: &[u8; 32],
    failure_message: &[u8],
    hold_time: u32,
) -> (Vec<u8>, AttributionData) {
    let mut packet = raw_error_packet(shared_secret, failure_message, MIN_FAILURE_AND_PAD);
    let attribution = attribution_for_failure(shared_secret, &packet, hold_time);
    obfuscate(shared_secret, &mut packet);
    (packet, attribution)
}

/// An intermediate node passes a failure back: its attribution first, over
/// the packet as it came from downstream, then its `ammag` layer on the
/// packet. A downstream node without `option_attribution_data` sent none:
/// ours starts from zeroes (BOLT 4 "Intermediate nodes").
pub fn wrap_failure(
    shared_secret: &[u8; 32],
    reason: &mut [u8],
    downstream: Option<&AttributionData>,
    hold_time: u32,
) -> AttributionData {
    let attribution = attribution_forward(shared_secret, downstream, reason, hold_time);
    obfuscate(shared_secret, reason);
    attribution
}

/// The attribution data of an `update_fulfill_htlc` (BOLT 4 "Hold times for
/// successful payments"): as for a failure, over an empty message. The payee
/// passes `None`; each hop back passes what came from downstream.
pub fn fulfill_attribution(
    shared_secret: &[u8; 32],
    downstream: Option<&AttributionData>,
    hold_time: u32,
) -> AttributionData {
    attribution_forward(shared_secret, downstream, &[], hold_time)
}

/// Hold times the hops of a successful payment reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SuccessHoldTimes {
    /// Hold times (units of 100 ms) of the hops whose HMAC verified, in route order.
    pub hold_times: Vec<u32>,
    /// The first hop whose HMAC did not verify: it, or the hop after it, did
    /// not add attribution data or tampered with it.
    pub attribution_failed_at: Option<usize>,
}

/// The origin's reading of an `update_fulfill_htlc`'s attribution data:
/// peel each hop's `ammagext` layer and check its HMAC for its position.
pub fn decode_success(
    shared_secrets: &[[u8; 32]],
    attribution: &AttributionData,
) -> SuccessHoldTimes {
    let mut a = attribution.clone();
    let attributable = shared_secrets.len().min(MAX_HOPS);
    let mut hold_times = vec![];
    for (i, ss) in shared_secrets.iter().take(attributable).enumerate() {
        a.crypt(ss);
        if !a.verify(ss, &[], attributable - i - 1) {
            return SuccessHoldTimes {
                hold_times,
                attribution_failed_at: Some(i),
            };
        }
        hold_times.push(a.first_hold_time());
        a.shift_left();
    }
    SuccessHoldTimes {
        hold_times,
        attribution_failed_at: None,
    }
}

/// What the origin learns from a failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedFailure {
    /// The hop whose `um` HMAC matched (0 = the first hop).
    pub failing_hop: usize,
    /// Its failure message bytes.
    pub failure_message: Vec<u8>,
    /// Hold times of the hops whose attribution HMAC verified, in route order.
    pub hold_times: Vec<u32>,
    /// With attribution data: the first hop whose HMAC did not verify (blame for tampering).
    pub attribution_failed_at: Option<usize>,
}

/// Why the origin could not decode a failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeFailureError {
    /// No hop's HMAC matched: garbage, or tampered beyond attribution.
    #[error("no hop's HMAC matches: the packet is garbage or was tampered with")]
    NoMatch {
        /// With attribution data: the first hop whose attribution HMAC failed.
        attribution_failed_at: Option<usize>,
    },
    /// The matching packet's lengths are inconsistent.
    #[error("hop {0}'s HMAC matches but its failure_len runs past the packet")]
    Malformed(usize),
}

/// BOLT 4 "Origin node": peel the hops' `ammag` streams in route order until
/// one hop's `um` HMAC matches; with attribution data, verify each hop's HMAC
/// for its position on the way and collect the hold times.
pub fn decode_failure(
    shared_secrets: &[[u8; 32]],
    packet: &[u8],
    attribution: Option<&AttributionData>,
) -> Result<DecodedFailure, DecodeFailureError> {
    let mut packet = packet.to_vec();
    let mut attribution = attribution.cloned();
    let mut hold_times = vec![];
    let mut attribution_failed_at = None;
    let attributable = shared_secrets.len().min(MAX_HOPS);
    for (i, ss) in shared_secrets.iter().enumerate() {
        obfuscate(ss, &mut packet);
        if let (Some(a), None) = (attribution.as_mut(), attribution_failed_at) {
            if i < attributable {
                a.crypt(ss);
                if a.verify(ss, &packet, attributable - i - 1) {
                    hold_times.push(a.first_hold_time());
                    a.shift_left();
                } else {
                    attribution_failed_at = Some(i);
                }
            }
        }
        if packet.len() < 32 + 2 {
            continue;
        }
        let um = keys::generate_key(b"um", ss);
        let expected = keys::hmac(&um, &[&packet[32..]]);
        if expected
            .iter()
            .zip(&packet[..32])
            .fold(0u8, |a, (x, y)| a | (x ^ y))
            == 0
        {
            let len = u16::from_be_bytes([packet[32], packet[33]]) as usize;
            let msg = packet
                .get(34..34 + len)
                .ok_or(DecodeFailureError::Malformed(i))?;
            return Ok(DecodedFailure {
                failing_hop: i,
                failure_message: msg.to_vec(),
                hold_times,
                attribution_failed_at,
            });
        }
    }
    Err(DecodeFailureError::NoMatch {
        attribution_failed_at,
    })
}

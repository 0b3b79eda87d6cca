//! BOLT 1 "Lightning Message Format" and the messages of BOLT 1, 2 and 7:
//! `u16 type || payload || optional TLV extension`, decoded by schema.
//!
//! Unknown odd message types are kept raw; unknown even ones are an error
//! ("it's OK to be odd"). Every message may carry a TLV extension after its
//! fields; records its schema does not know follow the BOLT 1 stream rules.

use bitcoin::secp256k1::PublicKey;

use super::tlv::{self, DecodedRecord, FieldType, Namespace, Record, RecordSchema};

/// How a message field is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `byte`.
    U8,
    /// `u16`.
    U16,
    /// `u32`.
    U32,
    /// `u64`.
    U64,
    /// `N*byte` (also `chain_hash`, `channel_id`, `sha256`, `signature`).
    Bytes(usize),
    /// `point`.
    Point,
    /// `short_channel_id`.
    Scid,
    /// `u16 len || len*byte`.
    Var,
    /// `u16 len || len*byte` holding a feature vector.
    Features,
    /// `u16 num || num*signature`.
    Signatures,
    /// `u16 len || encoding byte || data`: BOLT 7 encoded short channel ids.
    EncodedScids,
}

/// A decoded field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// An integer field.
    Uint(u64),
    /// Bytes.
    Bytes(Vec<u8>),
    /// A point.
    Point(PublicKey),
    /// A short channel id.
    Scid(u64),
    /// A feature vector.
    Features(Vec<u8>),
    /// Signatures (64 bytes each).
    Signatures(Vec<Vec<u8>>),
    /// Encoded short channel ids: the encoding byte, its raw data, and the ids when they decode.
    Scids {
        /// 0 = uncompressed, 1 = zlib (which BOLT 7 now forbids senders to use).
        encoding: u8,
        /// The data after the encoding byte.
        raw: Vec<u8>,
        /// The ids.
        scids: Option<Vec<u64>>,
    },
}

/// A message type.
#[derive(Clone, Copy, Debug)]
pub struct MessageSchema {
    /// Its type.
    pub typ: u16,
    /// Its name.
    pub name: &'static str,
    /// Its fields.
    pub fields: &'static [(&'static str, Kind)],
    /// Its TLV extension's known records.
    pub tlvs: &'static [RecordSchema],
}

/// A decoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Its type.
    pub typ: u16,
    /// Its name, when known.
    pub name: Option<&'static str>,
    /// Its fields (empty for an unknown odd type).
    pub fields: Vec<(&'static str, Value)>,
    /// Its TLV extension.
    pub tlvs: Vec<DecodedRecord>,
    /// The payload of an unknown odd type, kept as it is.
    pub raw: Option<Vec<u8>>,
}

/// Bytes that are not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Not even a type.
    #[error("a message needs at least its 2-byte type")]
    NoType,
    /// An unknown even type must be refused.
    #[error("unknown even message type {0}")]
    UnknownEven(u16),
    /// A field runs past the end.
    #[error("{message}: truncated in field {field}")]
    Truncated {
        /// The message.
        message: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A point that is not on the curve.
    #[error("{message}: field {field} is not a valid point")]
    Point {
        /// The message.
        message: &'static str,
        /// The field.
        field: &'static str,
    },
    /// The extension breaks a BOLT 1 TLV rule.
    #[error("{message}: TLV extension: {error}")]
    Tlv {
        /// The message.
        message: &'static str,
        /// What broke.
        error: tlv::TlvError,
    },
    /// A feature bit the reader does not know, required.
    #[error("{message}: unknown required feature bit {bit} in {field}")]
    UnknownFeature {
        /// The message.
        message: &'static str,
        /// The field.
        field: &'static str,
        /// The bit.
        bit: u16,
    },
    /// A value that does not fit its field.
    #[error("field {0}: the value does not fit its type")]
    Value(&'static str),
    /// Over the 65535-byte limit.
    #[error("message of {0} bytes is over the 65535-byte limit")]
    TooLong(usize),
}

const CH: Kind = Kind::Bytes(32);
const SIG: Kind = Kind::Bytes(64);

macro_rules! tlvs {
    ($($typ:expr, $name:expr, [$($f:expr, $t:expr),*]);* $(;)?) => {
        &[$(RecordSchema { typ: $typ, name: $name, fields: &[$(($f, $t)),*] }),*]
    };
}

/// BOLT 2 `option_simple_close`: `closing_complete` and `closing_sig` share their fields.
const CLOSING_FIELDS: &[(&str, Kind)] = &[
    ("channel_id", CH),
    ("closer_scriptpubkey", Kind::Var),
    ("closee_scriptpubkey", Kind::Var),
    ("fee_satoshis", Kind::U64),
    ("locktime", Kind::U32),
];
const CLOSING_TLVS: &[RecordSchema] = tlvs![
    1, "closer_output_only", ["sig", FieldType::Bytes(64)];
    2, "closee_output_only", ["sig", FieldType::Bytes(64)];
    3, "closer_and_closee_outputs", ["sig", FieldType::Bytes(64)]
];

/// Every message lnkit knows (BOLT 1, 2 and 7).
pub const MESSAGES: &[MessageSchema] = &[
    MessageSchema {
        typ: 16,
        name: "init",
        fields: &[
            ("globalfeatures", Kind::Features),
            ("features", Kind::Features),
        ],
        tlvs: tlvs![1, "networks", ["chains", FieldType::Rest]; 3, "remote_addr", ["data", FieldType::Rest]],
    },
    MessageSchema {
        typ: 17,
        name: "error",
        fields: &[("channel_id", CH), ("data", Kind::Var)],
        tlvs: &[],
    },
    MessageSchema {
        typ: 1,
        name: "warning",
        fields: &[("channel_id", CH), ("data", Kind::Var)],
        tlvs: &[],
    },
    MessageSchema {
        typ: 18,
        name: "ping",
        fields: &[("num_pong_bytes", Kind::U16), ("ignored", Kind::Var)],
        tlvs: &[],
    },
    MessageSchema {
        typ: 19,
        name: "pong",
        fields: &[("ignored", Kind::Var)],
        tlvs: &[],
    },
    MessageSchema {
        typ: 32,
        name: "open_channel",
        fields: &[
            ("chain_hash", CH),
            ("temporary_channel_id", CH),
            ("funding_satoshis", Kind::U64),
            ("push_msat", Kind::U64),
            ("dust_limit_satoshis", Kind::U64),
            ("max_htlc_value_in_flight_msat", Kind::U64),
            ("channel_reserve_satoshis", Kind::U64),
            ("htlc_minimum_msat", Kind::U64),
            ("feerate_per_kw", Kind::U32),
            ("to_self_delay", Kind::U16),
            ("max_accepted_htlcs", Kind::U16),
            ("funding_pubkey", Kind::Point),
            ("revocation_basepoint", Kind::Point),
            ("payment_basepoint", Kind::Point),
            ("delayed_payment_basepoint", Kind::Point),
            ("htlc_basepoint", Kind::Point),
            ("first_per_commitment_point", Kind::Point),
            ("channel_flags", Kind::U8),
        ],
        tlvs: tlvs![0, "upfront_shutdown_script", ["shutdown_scriptpubkey", FieldType::Rest]; 1, "channel_type", ["type", FieldType::Rest]],
    },
    MessageSchema {
        typ: 33,
        name: "accept_channel",
        fields: &[
            ("temporary_channel_id", CH),
            ("dust_limit_satoshis", Kind::U64),
            ("max_htlc_value_in_flight_msat", Kind::U64),
            ("channel_reserve_satoshis", Kind::U64),
            ("htlc_minimum_msat", Kind::U64),
            ("minimum_depth", Kind::U32),
            ("to_self_delay", Kind::U16),
            ("max_accepted_htlcs", Kind::U16),
            ("funding_pubkey", Kind::Point),
            ("revocation_basepoint", Kind::Point),
            ("payment_basepoint", Kind::Point),
            ("delayed_payment_basepoint", Kind::Point),
            ("htlc_basepoint", Kind::Point),
            ("first_per_commitment_point", Kind::Point),
        ],
        tlvs: tlvs![0, "upfront_shutdown_script", ["shutdown_scriptpubkey", FieldType::Rest]; 1, "channel_type", ["type", FieldType::Rest]],
    },
    MessageSchema {
        typ: 34,
        name: "funding_created",
        fields: &[
            ("temporary_channel_id", CH),
            ("funding_txid", CH),
            ("funding_output_index", Kind::U16),
            ("signature", SIG),
        ],
        tlvs: &[],
    },
    MessageSchema {
        typ: 35,
        name: "funding_signed",
        fields: &[("channel_id", CH), ("signature", SIG)],
        tlvs: &[],
    },
    MessageSchema {
        typ: 36,
        name: "channel_ready",
        fields: &[
            ("channel_id", CH),
            ("second_per_commitment_point", Kind::Point),
        ],
        tlvs: tlvs![1, "short_channel_id", ["alias", FieldType::ShortChannelId]],
    },
    MessageSchema {
        typ: 38,
        name: "shutdown",
        fields: &[("channel_id", CH), ("scriptpubkey", Kind::Var)],
        tlvs: &[],
    },
    MessageSchema {
        typ: 39,
        name: "closing_signed",
        fields: &[
            ("channel_id", CH),
            ("fee_satoshis", Kind::U64),
            ("signature", SIG),
        ],
        tlvs: tlvs![
            1,
            "fee_range",
            [
                "min_fee_satoshis",
                FieldType::U64,
                "max_fee_satoshis",
                FieldType::U64
            ]
        ],
    },
    MessageSchema {
        typ: 40,
        name: "closing_complete",
        fields: CLOSING_FIELDS,
        tlvs: CLOSING_TLVS,
    },
    MessageSchema {
        typ: 41,
        name: "closing_sig",
        fields: CLOSING_FIELDS,
        tlvs: CLOSING_TLVS,
    },
    MessageSchema {
        typ: 128,
        name: "update_add_htlc",
        fields: &[
            ("channel_id", CH),
            ("id", Kind::U64),
            ("amount_msat", Kind::U64),
            ("payment_hash", CH),
            ("cltv_expiry", Kind::U32),
            ("onion_routing_packet", Kind::Bytes(1366)),
        ],
        tlvs: tlvs![0, "blinded_path", ["path_key", FieldType::Point]],
    },
    MessageSchema {
        typ: 130,
        name: "update_fulfill_htlc",
        fields: &[
            ("channel_id", CH),
            ("id", Kind::U64),
            ("payment_preimage", CH),
        ],
        tlvs: tlvs![
            1,
            "attribution_data",
            ["attribution_data", FieldType::Bytes(920)]
        ],
    },
    MessageSchema {
        typ: 131,
        name: "update_fail_htlc",
        fields: &[("channel_id", CH), ("id", Kind::U64), ("reason", Kind::Var)],
        tlvs: tlvs![
            1,
            "attribution_data",
            ["attribution_data", FieldType::Bytes(920)]
        ],
    },
    MessageSchema {
        typ: 135,
        name: "update_fail_malformed_htlc",
        fields: &[
            ("channel_id", CH),
            ("id", Kind::U64),
            ("sha256_of_onion", CH),
            ("failure_code", Kind::U16),
        ],
        tlvs: &[],
    },
    MessageSchema {
        typ: 132,
        name: "commitment_signed",
        fields: &[
            ("channel_id", CH),
            ("signature", SIG),
            ("htlc_signatures", Kind::Signatures),
        ],
        tlvs: &[],
    },
    MessageSchema {
        typ: 133,
        name: "revoke_and_ack",
        fields: &[
            ("channel_id", CH),
            ("per_commitment_secret", CH),
            ("next_per_commitment_point", Kind::Point),
        ],
        tlvs: &[],
    },
    MessageSchema {
        typ: 134,
        name: "update_fee",
        fields: &[("channel_id", CH), ("feerate_per_kw", Kind::U32)],
        tlvs: &[],
    },
    MessageSchema {
        typ: 136,
        name: "channel_reestablish",
        fields: &[
            ("channel_id", CH),
            ("next_commitment_number", Kind::U64),
            ("next_revocation_number", Kind::U64),
            ("your_last_per_commitment_secret", CH),
            ("my_current_per_commitment_point", Kind::Point),
        ],
        tlvs: tlvs![1, "next_funding", ["next_funding_txid", FieldType::Bytes(32), "retransmit_flags", FieldType::U8];
                    5, "my_current_funding_locked", ["my_current_funding_locked_txid", FieldType::Bytes(32), "retransmit_flags", FieldType::U8]],
    },
    MessageSchema {
        typ: 256,
        name: "channel_announcement",
        fields: &[
            ("node_signature_1", SIG),
            ("node_signature_2", SIG),
            ("bitcoin_signature_1", SIG),
            ("bitcoin_signature_2", SIG),
            ("features", Kind::Features),
            ("chain_hash", CH),
            ("short_channel_id", Kind::Scid),
            ("node_id_1", Kind::Point),
            ("node_id_2", Kind::Point),
            ("bitcoin_key_1", Kind::Point),
            ("bitcoin_key_2", Kind::Point),
        ],
        tlvs: &[],
    },
    MessageSchema {
        typ: 257,
        name: "node_announcement",
        fields: &[
            ("signature", SIG),
            ("features", Kind::Features),
            ("timestamp", Kind::U32),
            ("node_id", Kind::Point),
            ("rgb_color", Kind::Bytes(3)),
            ("alias", CH),
            ("addresses", Kind::Var),
        ],
        tlvs: &[],
    },
    MessageSchema {
        typ: 258,
        name: "channel_update",
        fields: &[
            ("signature", SIG),
            ("chain_hash", CH),
            ("short_channel_id", Kind::Scid),
            ("timestamp", Kind::U32),
            ("message_flags", Kind::U8),
            ("channel_flags", Kind::U8),
            ("cltv_expiry_delta", Kind::U16),
            ("htlc_minimum_msat", Kind::U64),
            ("fee_base_msat", Kind::U32),
            ("fee_proportional_millionths", Kind::U32),
            ("htlc_maximum_msat", Kind::U64),
        ],
        tlvs: &[],
    },
    MessageSchema {
        typ: 259,
        name: "announcement_signatures",
        fields: &[
            ("channel_id", CH),
            ("short_channel_id", Kind::Scid),
            ("node_signature", SIG),
            ("bitcoin_signature", SIG),
        ],
        tlvs: &[],
    },
    MessageSchema {
        typ: 261,
        name: "query_short_channel_ids",
        fields: &[
            ("chain_hash", CH),
            ("encoded_short_ids", Kind::EncodedScids),
        ],
        tlvs: tlvs![1, "query_flags", ["encoded_query_flags", FieldType::Rest]],
    },
    MessageSchema {
        typ: 262,
        name: "reply_short_channel_ids_end",
        fields: &[("chain_hash", CH), ("full_information", Kind::U8)],
        tlvs: &[],
    },
    MessageSchema {
        typ: 263,
        name: "query_channel_range",
        fields: &[
            ("chain_hash", CH),
            ("first_blocknum", Kind::U32),
            ("number_of_blocks", Kind::U32),
        ],
        tlvs: tlvs![
            1,
            "query_option",
            ["query_option_flags", FieldType::BigSize]
        ],
    },
    MessageSchema {
        typ: 264,
        name: "reply_channel_range",
        fields: &[
            ("chain_hash", CH),
            ("first_blocknum", Kind::U32),
            ("number_of_blocks", Kind::U32),
            ("sync_complete", Kind::U8),
            ("encoded_short_ids", Kind::EncodedScids),
        ],
        tlvs: tlvs![1, "timestamps_tlv", ["encoded_timestamps", FieldType::Rest]; 3, "checksums_tlv", ["checksums", FieldType::Rest]],
    },
    MessageSchema {
        typ: 265,
        name: "gossip_timestamp_filter",
        fields: &[
            ("chain_hash", CH),
            ("first_timestamp", Kind::U32),
            ("timestamp_range", Kind::U32),
        ],
        tlvs: &[],
    },
];

impl MessageSchema {
    /// The schema of a type.
    pub fn by_type(typ: u16) -> Option<&'static MessageSchema> {
        MESSAGES.iter().find(|m| m.typ == typ)
    }

    /// The schema of a name.
    pub fn by_name(name: &str) -> Option<&'static MessageSchema> {
        MESSAGES.iter().find(|m| m.name == name)
    }

    /// The TLV namespace of its extension.
    pub fn namespace(&self) -> Namespace {
        Namespace {
            name: self.name,
            records: self.tlvs,
        }
    }
}

/// BOLT 7 "Query Messages": decode `encoding_type || data`. zlib (1) is still read, but BOLT 7 forbids sending it.
pub fn decode_scids(encoding: u8, data: &[u8]) -> Option<Vec<u64>> {
    let plain = match encoding {
        0 => data.to_vec(),
        1 => {
            use std::io::Read;
            let mut out = vec![];
            flate2::read::ZlibDecoder::new(data)
                .take(1 << 22)
                .read_to_end(&mut out)
                .ok()?;
            out
        }
        _ => return None,
    };
    (plain.len() % 8 == 0).then(|| {
        plain
            .chunks(8)
            .map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes")))
            .collect()
    })
}

fn int(b: &[u8]) -> u64 {
    b.iter().fold(0u64, |a, x| (a << 8) | u64::from(*x))
}

/// Decode a message (its 2-byte type first).
pub fn decode(bytes: &[u8]) -> Result<Message, MessageError> {
    if bytes.len() > 65535 {
        return Err(MessageError::TooLong(bytes.len()));
    }
    let typ = u16::from_be_bytes(
        bytes
            .get(..2)
            .ok_or(MessageError::NoType)?
            .try_into()
            .expect("2 bytes"),
    );
    let Some(schema) = MessageSchema::by_type(typ) else {
        if typ % 2 == 0 {
            return Err(MessageError::UnknownEven(typ));
        }
        return Ok(Message {
            typ,
            name: None,
            fields: vec![],
            tlvs: vec![],
            raw: Some(bytes[2..].to_vec()),
        });
    };
    let m = schema.name;
    let mut pos = 2;
    let mut fields = vec![];
    for (field, kind) in schema.fields {
        let take = |pos: usize, n: usize| {
            bytes
                .get(pos..pos + n)
                .ok_or(MessageError::Truncated { message: m, field })
        };
        let (value, used) = match kind {
            Kind::U8 => (Value::Uint(int(take(pos, 1)?)), 1),
            Kind::U16 => (Value::Uint(int(take(pos, 2)?)), 2),
            Kind::U32 => (Value::Uint(int(take(pos, 4)?)), 4),
            Kind::U64 => (Value::Uint(int(take(pos, 8)?)), 8),
            Kind::Scid => (Value::Scid(int(take(pos, 8)?)), 8),
            Kind::Bytes(n) => (Value::Bytes(take(pos, *n)?.to_vec()), *n),
            Kind::Point => {
                let p = PublicKey::from_slice(take(pos, 33)?)
                    .map_err(|_| MessageError::Point { message: m, field })?;
                (Value::Point(p), 33)
            }
            Kind::Var | Kind::Features | Kind::EncodedScids => {
                let len = int(take(pos, 2)?) as usize;
                let body = take(pos + 2, len)?.to_vec();
                let v = match kind {
                    Kind::Var => Value::Bytes(body),
                    Kind::Features => Value::Features(body),
                    _ => {
                        let (enc, data) = body
                            .split_first()
                            .ok_or(MessageError::Truncated { message: m, field })?;
                        Value::Scids {
                            encoding: *enc,
                            raw: data.to_vec(),
                            scids: decode_scids(*enc, data),
                        }
                    }
                };
                (v, 2 + len)
            }
            Kind::Signatures => {
                let n = int(take(pos, 2)?) as usize;
                let body = take(pos + 2, 64 * n)?;
                (
                    Value::Signatures(body.chunks(64).map(|c| c.to_vec()).collect()),
                    2 + 64 * n,
                )
            }
        };
        fields.push((*field, value));
        pos += used;
    }
    let tlvs = schema
        .namespace()
        .decode(&bytes[pos..])
        .map_err(|error| MessageError::Tlv { message: m, error })?;
    Ok(Message {
        typ,
        name: Some(m),
        fields,
        tlvs,
        raw: None,
    })
}

/// Encode a message: the inverse of [`decode`].
pub fn encode(msg: &Message) -> Result<Vec<u8>, MessageError> {
    let mut out = msg.typ.to_be_bytes().to_vec();
    let Some(schema) = MessageSchema::by_type(msg.typ) else {
        if msg.typ.is_multiple_of(2) {
            return Err(MessageError::UnknownEven(msg.typ));
        }
        out.extend(msg.raw.as_deref().unwrap_or(&[]));
        return Ok(out);
    };
    for ((field, kind), (_, value)) in schema.fields.iter().zip(&msg.fields) {
        let var = |out: &mut Vec<u8>, body: &[u8]| -> Result<(), MessageError> {
            let len = u16::try_from(body.len()).map_err(|_| MessageError::Value(field))?;
            out.extend(len.to_be_bytes());
            out.extend(body);
            Ok(())
        };
        match (kind, value) {
            (Kind::U8, Value::Uint(v)) => {
                out.push(u8::try_from(*v).map_err(|_| MessageError::Value(field))?)
            }
            (Kind::U16, Value::Uint(v)) => out.extend(
                u16::try_from(*v)
                    .map_err(|_| MessageError::Value(field))?
                    .to_be_bytes(),
            ),
            (Kind::U32, Value::Uint(v)) => out.extend(
                u32::try_from(*v)
                    .map_err(|_| MessageError::Value(field))?
                    .to_be_bytes(),
            ),
            (Kind::U64, Value::Uint(v)) | (Kind::Scid, Value::Scid(v)) => {
                out.extend(v.to_be_bytes())
            }
            (Kind::Bytes(n), Value::Bytes(b)) if b.len() == *n => out.extend(b),
            (Kind::Point, Value::Point(p)) => out.extend(p.serialize()),
            (Kind::Var, Value::Bytes(b)) | (Kind::Features, Value::Features(b)) => {
                var(&mut out, b)?
            }
            (Kind::EncodedScids, Value::Scids { encoding, raw, .. }) => {
                let mut body = vec![*encoding];
                body.extend(raw);
                var(&mut out, &body)?;
            }
            (Kind::Signatures, Value::Signatures(sigs)) if sigs.iter().all(|s| s.len() == 64) => {
                out.extend(
                    u16::try_from(sigs.len())
                        .map_err(|_| MessageError::Value(field))?
                        .to_be_bytes(),
                );
                sigs.iter().for_each(|s| out.extend(s));
            }
            _ => return Err(MessageError::Value(field)),
        }
    }
    let records: Vec<Record> = msg
        .tlvs
        .iter()
        .map(|r| Record {
            typ: r.typ,
            value: r.value.clone(),
        })
        .collect();
    out.extend(tlv::encode_stream(&records));
    if out.len() > 65535 {
        return Err(MessageError::TooLong(out.len()));
    }
    // What we write must read back: field sizes, TLV order, points.
    decode(&out)?;
    Ok(out)
}

/// Uncompressed `encoded_short_ids` for a list of ids.
pub fn encode_scids(scids: &[u64]) -> Value {
    Value::Scids {
        encoding: 0,
        raw: scids.iter().flat_map(|s| s.to_be_bytes()).collect(),
        scids: Some(scids.to_vec()),
    }
}

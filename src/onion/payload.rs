//! BOLT 4 "`payload` format": the TLV records a hop finds in its layer of a
//! payment onion.

use crate::wire::tlv::{FieldType, Namespace, RecordSchema};

/// The `payload` TLV namespace (BOLT 4 "`payload` format").
pub const PAYLOAD: Namespace = Namespace {
    name: "payload",
    records: &[
        RecordSchema {
            typ: 2,
            name: "amt_to_forward",
            fields: &[("amt_to_forward_msat", FieldType::Tu64)],
        },
        RecordSchema {
            typ: 4,
            name: "outgoing_cltv_value",
            fields: &[("outgoing_cltv_value", FieldType::Tu32)],
        },
        RecordSchema {
            typ: 6,
            name: "short_channel_id",
            fields: &[("short_channel_id", FieldType::ShortChannelId)],
        },
        RecordSchema {
            typ: 8,
            name: "payment_data",
            fields: &[
                ("payment_secret", FieldType::Bytes(32)),
                ("total_msat", FieldType::Tu64),
            ],
        },
        RecordSchema {
            typ: 10,
            name: "encrypted_recipient_data",
            fields: &[("encrypted_recipient_data", FieldType::Rest)],
        },
        RecordSchema {
            typ: 12,
            name: "current_path_key",
            fields: &[("current_path_key", FieldType::Point)],
        },
        RecordSchema {
            typ: 16,
            name: "payment_metadata",
            fields: &[("payment_metadata", FieldType::Rest)],
        },
        RecordSchema {
            typ: 18,
            name: "total_amount_msat",
            fields: &[("total_amount_msat", FieldType::Tu64)],
        },
        RecordSchema {
            typ: KEYSEND_TYPE,
            name: "keysend_preimage",
            fields: &[("keysend_preimage", FieldType::Bytes(32))],
        },
    ],
};

/// Spontaneous payments ("keysend", bLIP 3): the final hop's payload carries
/// the preimage, under this odd type, so a payee without an invoice can claim.
pub const KEYSEND_TYPE: u64 = 5_482_373_484;

/// BOLT 4 "Inside `encrypted_recipient_data`: `encrypted_data_tlv`".
pub const ENCRYPTED_DATA_TLV: Namespace = Namespace {
    name: "encrypted_data_tlv",
    records: &[
        RecordSchema {
            typ: 1,
            name: "padding",
            fields: &[("padding", FieldType::Rest)],
        },
        RecordSchema {
            typ: 2,
            name: "short_channel_id",
            fields: &[("short_channel_id", FieldType::ShortChannelId)],
        },
        RecordSchema {
            typ: 4,
            name: "next_node_id",
            fields: &[("next_node_id", FieldType::Point)],
        },
        RecordSchema {
            typ: 6,
            name: "path_id",
            fields: &[("path_id", FieldType::Rest)],
        },
        RecordSchema {
            typ: 8,
            name: "next_path_key_override",
            fields: &[("next_path_key_override", FieldType::Point)],
        },
        RecordSchema {
            typ: 10,
            name: "payment_relay",
            fields: &[
                ("cltv_expiry_delta", FieldType::U16),
                ("fee_proportional_millionths", FieldType::U32),
                ("fee_base_msat", FieldType::Tu32),
            ],
        },
        RecordSchema {
            typ: 12,
            name: "payment_constraints",
            fields: &[
                ("max_cltv_expiry", FieldType::U32),
                ("htlc_minimum_msat", FieldType::Tu64),
            ],
        },
        RecordSchema {
            typ: 14,
            name: "allowed_features",
            fields: &[("features", FieldType::Rest)],
        },
    ],
};

/// BOLT 4 "The `onion_message` Message": the `onionmsg_tlv` payload of each hop.
pub const ONIONMSG_TLV: Namespace = Namespace {
    name: "onionmsg_tlv",
    records: &[
        RecordSchema {
            typ: 2,
            name: "reply_path",
            fields: &[("reply_path", FieldType::Rest)],
        },
        RecordSchema {
            typ: 4,
            name: "encrypted_recipient_data",
            fields: &[("encrypted_recipient_data", FieldType::Rest)],
        },
        RecordSchema {
            typ: 64,
            name: "invoice_request",
            fields: &[("invoice_request", FieldType::Rest)],
        },
        RecordSchema {
            typ: 66,
            name: "invoice",
            fields: &[("invoice", FieldType::Rest)],
        },
        RecordSchema {
            typ: 68,
            name: "invoice_error",
            fields: &[("invoice_error", FieldType::Rest)],
        },
    ],
};

/// The `onion_message` message type (BOLT 4).
pub const ONION_MESSAGE_TYPE: u16 = 513;

/// A payment onion's hop payload as values: what a sender puts in each
/// layer and what a hop reads back (BOLT 4 "`payload` format"). Unknown odd
/// records are ignored; the namespace refuses unknown even ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HopPayload {
    /// `amt_to_forward`.
    pub amt_to_forward: crate::amount::Msat,
    /// `outgoing_cltv_value`.
    pub outgoing_cltv: crate::payment::CltvExpiry,
    /// `short_channel_id` (intermediate hops).
    pub short_channel_id: Option<u64>,
    /// `payment_data`: `payment_secret` and `total_msat` (final hop).
    pub payment_data: Option<([u8; 32], crate::amount::Msat)>,
    /// `payment_metadata`.
    pub payment_metadata: Option<Vec<u8>>,
    /// The keysend preimage (bLIP 3; final hop).
    pub keysend_preimage: Option<[u8; 32]>,
}

/// A payload that is not a valid BOLT 4 payment payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The TLV stream breaks a rule.
    #[error(transparent)]
    Tlv(#[from] crate::wire::tlv::TlvError),
    /// A required record is missing.
    #[error("the payload has no {0}")]
    Missing(&'static str),
}

impl HopPayload {
    /// The TLV bytes (without the onion's length prefix).
    pub fn encode(&self) -> Vec<u8> {
        use crate::wire::bigsize::encode_truncated;
        use crate::wire::tlv::{encode_stream, Record};
        let mut records = vec![
            Record {
                typ: 2,
                value: encode_truncated(self.amt_to_forward.0),
            },
            Record {
                typ: 4,
                value: encode_truncated(u64::from(self.outgoing_cltv.0)),
            },
        ];
        if let Some(scid) = self.short_channel_id {
            records.push(Record {
                typ: 6,
                value: scid.to_be_bytes().to_vec(),
            });
        }
        if let Some((secret, total)) = &self.payment_data {
            let mut v = secret.to_vec();
            v.extend(encode_truncated(total.0));
            records.push(Record { typ: 8, value: v });
        }
        if let Some(m) = &self.payment_metadata {
            records.push(Record {
                typ: 16,
                value: m.clone(),
            });
        }
        if let Some(p) = &self.keysend_preimage {
            records.push(Record {
                typ: KEYSEND_TYPE,
                value: p.to_vec(),
            });
        }
        encode_stream(&records)
    }

    /// Read a payload (BOLT 4: `amt_to_forward` and `outgoing_cltv_value` are required).
    pub fn decode(bytes: &[u8]) -> Result<Self, PayloadError> {
        use crate::wire::tlv::FieldValue;
        let records = PAYLOAD.decode(bytes)?;
        let field = |typ: u64, i: usize| {
            records
                .iter()
                .find(|r| r.typ == typ)
                .and_then(|r| r.fields.get(i).map(|(_, v)| v.clone()))
        };
        let uint = |typ, i| match field(typ, i) {
            Some(FieldValue::Uint(v)) | Some(FieldValue::ShortChannelId(v)) => Some(v),
            _ => None,
        };
        let bytes_of = |typ, i| match field(typ, i) {
            Some(FieldValue::Bytes(b)) => Some(b),
            _ => None,
        };
        Ok(HopPayload {
            amt_to_forward: crate::amount::Msat(
                uint(2, 0).ok_or(PayloadError::Missing("amt_to_forward"))?,
            ),
            outgoing_cltv: crate::payment::CltvExpiry(
                uint(4, 0).ok_or(PayloadError::Missing("outgoing_cltv_value"))? as u32,
            ),
            short_channel_id: uint(6, 0),
            payment_data: bytes_of(8, 0).and_then(|s| {
                let secret: [u8; 32] = s.try_into().ok()?;
                Some((secret, crate::amount::Msat(uint(8, 1)?)))
            }),
            payment_metadata: bytes_of(16, 0),
            keysend_preimage: bytes_of(KEYSEND_TYPE, 0).and_then(|p| p.try_into().ok()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_final_payload_round_trips() {
        let p = HopPayload {
            amt_to_forward: crate::amount::Msat(1_000_123),
            outgoing_cltv: crate::payment::CltvExpiry(750_000),
            short_channel_id: None,
            payment_data: Some(([7; 32], crate::amount::Msat(2_000_000))),
            payment_metadata: Some(vec![1, 2, 3]),
            keysend_preimage: Some([9; 32]),
        };
        assert_eq!(HopPayload::decode(&p.encode()).unwrap(), p);
        assert_eq!(
            HopPayload::decode(&[]),
            Err(PayloadError::Missing("amt_to_forward"))
        );
    }
}

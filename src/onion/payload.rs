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
    ],
};

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

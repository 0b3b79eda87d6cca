//! `lnkit tlv decode | encode`: a TLV stream as JSON and back, optionally
//! read by a namespace's schema. Also the JSON <-> record helpers the onion
//! commands share.

use clap::{Args, Subcommand};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::field::{HexBytes, Uint};
use super::input::Input;
pub use super::tlv_fields::{
    decode_json, encode_fields, field_json, fields_json, records_from_fields,
};
use super::{hex, Explain, StepResult};
use crate::cli::respond;
use crate::onion::payload::{ENCRYPTED_DATA_TLV, ONIONMSG_TLV, PAYLOAD};
use crate::wire::tlv::{self, Namespace, Record, N1, N2};

/// `lnkit tlv ...`
#[derive(Subcommand, Debug)]
pub enum TlvCommand {
    /// A TLV stream (`tlv_hex`) -> its records, checked against the BOLT 1 rules.
    Decode(TlvArgs),
    /// Records -> `tlv_hex`.
    Encode(TlvArgs),
}

/// Flags of `lnkit tlv`.
#[derive(Args, Debug)]
pub struct TlvArgs {
    /// payload, encrypted_data_tlv, onionmsg_tlv, n1, n2 (BOLT 1's test namespaces), or none (field `namespace`).
    #[arg(long)]
    namespace: Option<String>,
}

/// The namespaces `--namespace` knows.
pub const NAMESPACES: [&str; 6] = [
    "none",
    "payload",
    "encrypted_data_tlv",
    "onionmsg_tlv",
    "n1",
    "n2",
];

/// A namespace by name; `None` for `none` (every record raw, every type accepted).
pub fn namespace(name: &str) -> Option<Namespace> {
    match name {
        "payload" => Some(PAYLOAD),
        "encrypted_data_tlv" => Some(ENCRYPTED_DATA_TLV),
        "onionmsg_tlv" => Some(ONIONMSG_TLV),
        "n1" => Some(N1),
        "n2" => Some(N2),
        _ => None,
    }
}

/// The namespace a stream is read in (`none`: every record raw).
#[derive(Deserialize, JsonSchema)]
pub struct NamespaceIn {
    /// none, payload, encrypted_data_tlv, onionmsg_tlv, n1 or n2 (--namespace; default none).
    namespace: Option<NamespaceName>,
}

/// The namespaces by name.
#[derive(Deserialize, JsonSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum NamespaceName {
    /// Every record raw, every type accepted.
    None,
    /// BOLT 4 onion payloads.
    Payload,
    /// BOLT 4 route blinding's encrypted data.
    EncryptedDataTlv,
    /// BOLT 4 onion messages.
    OnionmsgTlv,
    /// BOLT 1's test namespace n1.
    N1,
    /// BOLT 1's test namespace n2.
    N2,
}

/// `tlv decode`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct DecodeIn {
    /// The TLV stream.
    tlv_hex: HexBytes,
}

/// `tlv encode`'s fields.
#[derive(Deserialize, JsonSchema)]
pub struct EncodeIn {
    /// The records, in any order.
    records: Vec<RecordIn>,
}

/// One record to encode: its value as hex, or as the namespace's fields.
#[derive(Deserialize, JsonSchema)]
pub struct RecordIn {
    /// The record's type.
    #[serde(rename = "type")]
    typ: Uint,
    /// The value's bytes (or fields).
    value_hex: Option<HexBytes>,
    /// The value as the namespace's fields for this type.
    fields: Option<Map<String, Value>>,
}

/// The records of a stream.
#[derive(Serialize, JsonSchema)]
pub struct DecodeOut {
    namespace: String,
    /// Each record: type, length, value_hex, and its fields when the namespace knows it.
    records: Vec<Value>,
    tlv_hex: String,
}

/// The stream.
#[derive(Serialize, JsonSchema)]
pub struct EncodeOut {
    tlv_hex: String,
}

/// Run `lnkit tlv ...`.
pub fn run(cmd: TlvCommand, input: &mut Input, ex: &mut Explain) -> StepResult {
    let (TlvCommand::Decode(a) | TlvCommand::Encode(a)) = &cmd;
    super::flag(input, "namespace", a.namespace.clone());
    let n: NamespaceIn = input.typed()?;
    let ns = namespace(n.namespace.map_or("none", |n| NAMESPACES[n as usize]));
    match cmd {
        TlvCommand::Decode(_) => {
            let bytes = input.typed::<DecodeIn>()?.tlv_hex.0;
            let records =
                decode_json(ns.as_ref(), &bytes).map_err(|e| input.error("tlv_hex", e))?;
            ex.line(format!(
                "{} records, types strictly increasing, every length within the stream",
                records.len()
            ));
            let out = DecodeOut {
                namespace: ns.map(|n| n.name).unwrap_or("none").to_string(),
                records,
                tlv_hex: hex(&bytes),
            };
            respond(out)
        }
        TlvCommand::Encode(_) => {
            let typed: EncodeIn = input.typed()?;
            // The fields are read by the namespace's schema, with their paths.
            let items = input.objects("records")?;
            let mut records = vec![];
            for (r, item) in typed.records.iter().zip(&items) {
                let typ = r.typ.0;
                let fields = match r.fields {
                    Some(_) => item.object("fields")?,
                    None => None,
                };
                let value = match (r.value_hex.as_ref(), fields, ns.as_ref().and_then(|n| n.record(typ))) {
                    (Some(v), _, _) => v.0.clone(),
                    (None, Some(fields), Some(schema)) => encode_fields(&fields, schema.fields)?,
                    _ => return Err(item.error("value_hex", "missing required field (or give fields, with a namespace that knows this type)")),
                };
                records.push(Record { typ, value });
            }
            records.sort_by_key(|r| r.typ);
            if let Some(w) = records.windows(2).find(|w| w[0].typ == w[1].typ) {
                return Err(input.error("records", format!("type {} appears twice", w[0].typ)));
            }
            let bytes = tlv::encode_stream(&records);
            // What we write must read back under the same rules.
            decode_json(ns.as_ref(), &bytes).map_err(|e| input.error("records", e))?;
            let out = EncodeOut {
                tlv_hex: hex(&bytes),
            };
            respond(out)
        }
    }
}
